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
  for (let position = height; position >= 1; position--) {
    const unit = byPosition.get(position);
    const y = (height - position) * unitHeight;
    const label = unit ? unitLabel(unit, elevation.reservations) : "";
    const host = unit?.status === RackUnitStatus.OCCUPIED && unit.occupant?.kind === "baremetal" ? unit.occupant.id : "";
    const open = () => navigate(`/hosts/${host}`);
    rows.push(
      <g
        key={position}
        data-position={position}
        {...(host
          ? {
              role: "link",
              tabIndex: 0,
              "aria-label": `U${position} ${label}`,
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
        <text x={rail - 4} y={y + 15} textAnchor="end" className="u-number">
          {position}
        </text>
        <rect
          x={rail}
          y={y}
          width={width - rail}
          height={unitHeight - 1}
          fill={fills[unit?.status ?? RackUnitStatus.FREE] ?? "#f4f6f8"}
          stroke="#8a96a3"
        />
        <text x={rail + 6} y={y + 15} className="u-label">
          {label}
        </text>
      </g>,
    );
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
