import type { CallRecord, CallRecordEvent, CallRecordSink } from '../../core/call-record.js';

/** Keeps every record the core hands over (simulations print them instead of filing tickets). */
export class CollectingRecordSink implements CallRecordSink {
  readonly submitted: Array<{ event: CallRecordEvent; record: CallRecord }> = [];
  async submit(event: CallRecordEvent, record: CallRecord): Promise<void> {
    this.submitted.push({ event, record: structuredClone(record) });
  }
}
