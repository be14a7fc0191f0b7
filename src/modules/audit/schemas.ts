// Shapes the audit log, the change log and record histories share.
import { z } from 'zod';

/** What an update changed: each field with its old and new value. */
export const fieldChanges = z
  .record(z.string(), z.object({ old: z.unknown(), new: z.unknown() }))
  .nullable()
  .describe('For updates: each changed field with its old and new value');
