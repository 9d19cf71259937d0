/** Ids of a call's root span, for its log lines (`trace_id`, `span_id`, as OpenTelemetry's log bridges name them). */
export interface TraceIds {
  trace_id: string;
  span_id: string;
}

/**
 * Per-call traces. The call core starts a call's trace (and logs its ids); the turns' spans come from the call
 * events, so the conversation code knows nothing of tracing. Absent when tracing is off.
 */
export interface CallTracer {
  startCall(callId: string, attributes: Record<string, string>): TraceIds;
  /** Ends open spans and flushes the exporter (bounded). */
  close(): Promise<void>;
}
