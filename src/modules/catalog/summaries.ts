// How catalog records show inside each other's views: the fields of a related record's summary,
// and people assignments, deduplicated and in one order (role, then person).
export type Assignment = { person_id: string; role: string };

/** The fields a related record shows as a summary (those its table has). */
export const SUMMARY_FIELDS = ['id', 'name', 'type', 'status', 'operational_status', 'environment', 'provider', 'email'];

export function dedupeAssignments(list: Assignment[]) {
  const seen = new Set<string>();
  return list
    .filter((a) => {
      const key = `${a.person_id}|${a.role}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => (a.role === b.role ? a.person_id.localeCompare(b.person_id) : a.role.localeCompare(b.role)));
}
