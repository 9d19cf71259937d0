import type { CallRecord, CallRecordEvent, CallRecordSink } from '../../core/call-record.js';

export class MemoryRecordSink implements CallRecordSink {
  readonly submitted: Array<{ event: CallRecordEvent; record: CallRecord }> = [];
  failWith: Error | undefined;
  submit(event: CallRecordEvent, record: CallRecord): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.submitted.push({ event, record });
    return Promise.resolve();
  }
  of(event: CallRecordEvent): CallRecord[] {
    return this.submitted.filter((s) => s.event === event).map((s) => s.record);
  }
}
