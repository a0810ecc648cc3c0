// A rack's front view as SVG, NetBox style: the top unit first, each unit showing its host, its
// reservation or its fault. Hosts are links to their detail (keyboard focusable).
import type { GetRackElevationResponse, RackReservation, RackUnit } from "../../../gen/es/rackplane/v1/inventory_pb.js";
import { RackUnitStatus } from "../../../gen/es/rackplane/v1/inventory_pb.js";
import { navigate } from "../router";

const unitHeight = 22;
const width = 320;
const rail = 28;

const fills: Record<number, string> = {
  [RackUnitStatus.FREE]: "#f4f6f8",
  [RackUnitStatus.RESERVED]: "#fff1c2",
  [RackUnitStatus.OCCUPIED]: "#cfe3ff",
  [RackUnitStatus.FAULTY]: "#ffd0d0",
};

/** What a unit shows: its occupant, the reservation that holds it, its fault, or nothing. */
export function unitLabel(unit: RackUnit, reservations: readonly RackReservation[]): string {
  switch (unit.status) {
    case RackUnitStatus.OCCUPIED:
      return unit.occupant?.label || unit.occupant?.id || "occupied";
    case RackUnitStatus.RESERVED: {
      const held = reservations.find((r) => unit.position >= r.firstPosition && unit.position < r.firstPosition + r.unitCount);
      const purpose = unit.occupant?.label || held?.purpose;
      return `reserved${purpose ? `: ${purpose}` : ""}`;
    }
    case RackUnitStatus.FAULTY:
      return `fault${unit.faultReason ? `: ${unit.faultReason}` : ""}`;
    default:
      return "";
  }
}

export function RackElevation({ elevation }: { elevation: GetRackElevationResponse }) {
  const height = elevation.rack?.heightUnits || elevation.units.length;
  const byPosition = new Map(elevation.units.map((unit) => [unit.position, unit]));
  const rows = [];
  for (let top = height; top >= 1; ) {
    const unit = byPosition.get(top);
    // A host or reservation over several units is one block, as it sits in the rack.
    let bottom = top;
    const holder = unit?.occupant?.id;
    while (
      holder &&
      bottom > 1 &&
      byPosition.get(bottom - 1)?.occupant?.id === holder &&
      byPosition.get(bottom - 1)?.status === unit.status
    )
      bottom--;
    const span = top - bottom + 1;
    const y = (height - top) * unitHeight;
    const label = unit ? unitLabel(unit, elevation.reservations) : "";
    const host = unit?.status === RackUnitStatus.OCCUPIED && unit.occupant?.kind === "baremetal" ? unit.occupant.id : "";
    const open = () => navigate(`/hosts/${host}`);
    const units = span > 1 ? `U${bottom}–U${top}` : `U${top}`;
    rows.push(
      <g
        key={top}
        data-position={bottom}
        data-units={span}
        {...(host
          ? {
              role: "link",
              tabIndex: 0,
              "aria-label": `${units} ${label}`,
              className: "unit host",
              onClick: open,
              onKeyDown: (event: React.KeyboardEvent) => {
                if (event.key === "Enter" || event.key === " ") {
                  event.preventDefault();
                  open();
                }
              },
            }
          : { className: "unit" })}
      >
        {Array.from({ length: span }, (_, i) => (
          <text key={top - i} x={rail - 4} y={y + i * unitHeight + 15} textAnchor="end" className="u-number">
            {top - i}
          </text>
        ))}
        <rect
          x={rail}
          y={y}
          width={width - rail}
          height={span * unitHeight - 1}
          fill={fills[unit?.status ?? RackUnitStatus.FREE] ?? "#f4f6f8"}
          stroke="#8a96a3"
        />
        <text x={rail + 6} y={y + (span * unitHeight) / 2 + 4} className="u-label">
          {label}
        </text>
      </g>,
    );
    top = bottom - 1;
  }
  return (
    <svg
      className="elevation"
      viewBox={`0 0 ${width} ${height * unitHeight}`}
      width="100%"
      style={{ maxWidth: width }}
      role="img"
      aria-label={`Front view of rack ${elevation.rack?.name ?? ""}, ${height} units`}
    >
      {rows}
    </svg>
  );
}
