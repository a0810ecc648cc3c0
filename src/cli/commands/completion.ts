// `rackctl completion bash|zsh`: completes commands, kinds and flags (names are not looked up).
import { UsageError } from "../errors.js";
import { kinds } from "../kinds.js";
import type { Command } from "commander";

export async function run(shell: string, root: Command): Promise<void> {
  const commands = root.commands.map((c) => c.name());
  const kindWords = kinds.map((k) => k.name).join(" ");
  const flags = Object.fromEntries(
    root.commands.map((c) => [
      c.name(),
      c.options
        .map((o) => o.long)
        .filter(Boolean)
        .join(" "),
    ]),
  );
  const globals = root.options.map((o) => o.long).join(" ");
  const cases = Object.entries(flags)
    .map(([name, list]) => `    ${name}) flags="${list} ${globals} --help";;`)
    .join("\n");
  if (shell === "bash") {
    process.stdout.write(`# bash completion for rackctl: source <(rackctl completion bash)
_rackctl() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} flags=""
  if [ "$COMP_CWORD" -eq 1 ]; then COMPREPLY=($(compgen -W "${commands.join(" ")}" -- "$cur")); return; fi
  case "$cmd" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$flags" -- "$cur")); return; fi
  case "$cmd" in
    get|describe|create|update|delete) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "${kindWords}" -- "$cur"));;
    start|stop|reboot) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "vm" -- "$cur"));;
    import|export) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "hosts" -- "$cur")) || COMPREPLY=($(compgen -f -- "$cur"));;
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur"));;
  esac
}
complete -F _rackctl rackctl
`);
    return;
  }
  if (shell === "zsh") {
    process.stdout.write(`#compdef rackctl
# zsh completion for rackctl: rackctl completion zsh > "\${fpath[1]}/_rackctl"
_rackctl() {
  local cmd=\${words[2]} flags=""
  if (( CURRENT == 2 )); then compadd -- ${commands.join(" ")}; return; fi
  case "$cmd" in
${cases}
  esac
  if [[ "\${words[CURRENT]}" == -* ]]; then compadd -- \${=flags}; return; fi
  case "$cmd" in
    get|describe|create|update|delete) (( CURRENT == 3 )) && compadd -- ${kindWords};;
    start|stop|reboot) (( CURRENT == 3 )) && compadd -- vm;;
    import|export) (( CURRENT == 3 )) && compadd -- hosts || _files;;
    completion) compadd -- bash zsh;;
  esac
}
compdef _rackctl rackctl
`);
    return;
  }
  throw new UsageError(`no completion for "${shell}" (bash or zsh)`);
}
