// Used of a limit as a bar, Horizon style: amber from 80 %, red at or over the limit.
export type UsageLevel = "ok" | "near" | "full";

export function usageLevel(used: bigint | number, limit: bigint | number): UsageLevel {
  const u = Number(used);
  const l = Number(limit);
  if (l <= 0) return u > 0 ? "full" : "ok";
  if (u >= l) return "full";
  return u / l >= 0.8 ? "near" : "ok";
}

export function UsageBar({ label, used, limit }: { label: string; used: bigint | number; limit: bigint | number }) {
  const u = Number(used);
  const l = Number(limit);
  const level = usageLevel(u, l);
  return (
    <div className={`usage ${level}`} data-level={level}>
      <div className="usage-text">
        <span>{label}</span>
        <span>
          {u} / {l} ({l - u} left)
        </span>
      </div>
      {/* A native meter: low / high make the browser draw it amber near the limit and red at it. */}
      <meter className="usage-meter" aria-label={label} min={0} max={Math.max(l, u, 1)} low={l * 0.8} high={l} optimum={0} value={u} />
    </div>
  );
}
