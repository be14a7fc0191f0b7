// Durations of an incident, in seconds, from its timeline (each entry carries the status the
// incident had after it), measured from the first entry (the declaration):
// - time_to_identify: until the incident first reached 'identified' or a later step;
// - time_to_mitigate: until it first reached 'monitoring' (a fix is out and being watched) or later;
// - time_to_resolve: until it was last resolved, while it is resolved (a reopened incident is null).
// Steps may be skipped, so resolving straight from investigating sets all three. Null until reached.
import { INCIDENT_STATUS, type IncidentStatus } from './model.js';

export interface IncidentDurations {
  time_to_identify: number | null;
  time_to_mitigate: number | null;
  time_to_resolve: number | null;
}

const rank = (s: IncidentStatus) => INCIDENT_STATUS.indexOf(s);

export function durations(timeline: { timestamp: string; status: IncidentStatus }[]): IncidentDurations {
  const start = timeline[0] ? Date.parse(timeline[0].timestamp) : NaN;
  const seconds = (at: string | undefined) => (at === undefined || Number.isNaN(start) ? null : (Date.parse(at) - start) / 1000);
  const firstAt = (step: IncidentStatus) => timeline.find((e) => rank(e.status) >= rank(step))?.timestamp;
  const last = timeline[timeline.length - 1];
  let resolvedAt: string | undefined;
  if (last?.status === 'resolved') {
    let i = timeline.length - 1;
    while (i > 0 && timeline[i - 1]!.status === 'resolved') i--;
    resolvedAt = timeline[i]!.timestamp;
  }
  return { time_to_identify: seconds(firstAt('identified')), time_to_mitigate: seconds(firstAt('monitoring')), time_to_resolve: seconds(resolvedAt) };
}
