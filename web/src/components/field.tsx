// A labelled control whose accessible name is its label only: a <label for> rather than a wrapping
// label, whose name would also take in a select's options.
import { type ReactNode, useId } from "react";

export function Field({ label, children }: { label: string; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
    </div>
  );
}
