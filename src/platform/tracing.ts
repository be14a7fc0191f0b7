// Spans of our own (the write path, co-editing) through the OpenTelemetry API alone: without an
// SDK (OTEL_EXPORTER_OTLP_ENDPOINT unset) every call is a no-op. Attributes name records, tenants
// and counts, never values, tokens or URLs.
import { SpanStatusCode, context, trace, type Attributes, type Span } from '@opentelemetry/api';

const tracer = trace.getTracer('appinventory-live');

/** The names of our spans, in one place (the operations guide lists them). */
export const SPANS = {
  transaction: 'write.transaction',
  append: 'write.append',
  publish: 'write.publish',
  collabStore: 'collab.store',
  collabRelay: 'collab.relay',
  collabProjection: 'collab.projection',
} as const;

/** Runs `work` in a span that is the active one for everything it calls; an error is recorded on it and rethrown. */
export function inSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      fail(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The synchronous form of inSpan. */
export function inSpanSync<T>(name: string, attributes: Attributes, work: (span: Span) => T): T {
  return tracer.startActiveSpan(name, { attributes }, (span) => {
    try {
      return work(span);
    } catch (err) {
      fail(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** A span for work that outlives the caller's stack (a publish nobody awaits): ended by `done`. */
export function startSpan(name: string, attributes: Attributes): { span: Span; done(err?: unknown): void } {
  const span = tracer.startSpan(name, { attributes }, context.active());
  return {
    span,
    done: (err?: unknown) => {
      if (err !== undefined) fail(span, err);
      span.end();
    },
  };
}

/** Runs `work` with `span` as the active span (its children are the spans `work` starts). */
export function withinSpan<T>(span: Span, work: () => T): T {
  return context.with(trace.setSpan(context.active(), span), work);
}

function fail(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}
