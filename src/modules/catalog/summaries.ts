// How catalog records show inside each other's views: summaries of related records and people
// assignments, deduplicated and in one order (role, then person).
export type Assignment = { person_id: string; role: string };

const SUMMARY_FIELDS = ['id', 'name', 'type', 'status', 'operational_status', 'environment', 'provider', 'email'];

/** A summary: what a related record shows inside another's detail view. */
export function summarize(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(SUMMARY_FIELDS.filter((f) => row[f] !== undefined).map((f) => [f, row[f]]));
}

export function summarizeAssignment(a: Record<string, unknown>) {
  if (!('person' in a)) return a;
  const person = a.person as Record<string, unknown> | null;
  return { person_id: a.person_id, role: a.role, person: person ? summarize(person) : null };
}

export function dedupeAssignments(list: Assignment[]) {
  const seen = new Set<string>();
  return list.filter((a) => {
    const key = `${a.person_id}|${a.role}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }).sort((a, b) => (a.role === b.role ? a.person_id.localeCompare(b.person_id) : a.role.localeCompare(b.role)));
}
