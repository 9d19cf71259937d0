import type { TransferOutcome } from 'voicebot/telephony';

/**
 * What a jambonz `call_status` (lib/utils/constants.json CallStatus) says about a leg that was dialled, for the
 * transfer's agent and the REST-created outbound call alike; null while it is still on its way (trying, ringing,
 * early-media, queued). A REST outdial reports busy for SIP 486/603, no-answer for 487 (its ring timer cancelled
 * the INVITE) and failed for anything else (lib/http-routes/api/create-call.js).
 */
export function callStatusOutcome(status: string): TransferOutcome | null {
  switch (status) {
    case 'in-progress':
    case 'completed':
    case 'answered':
      return 'answered';
    case 'busy':
      return 'busy';
    case 'no-answer':
      return 'no-answer';
    case 'trying':
    case 'ringing':
    case 'early-media':
    case 'queued':
      return null;
    default:
      return 'failed';
  }
}

/** The dial actionHook's `dial_call_status`: on a ring timeout it is the last provisional status (lib/tasks/dial.js). */
export function dialStatusOutcome(status: string): TransferOutcome {
  return callStatusOutcome(status) ?? 'no-answer';
}

/** `busy (SIP 486)`: the status with its SIP code where jambonz sent one, for logs and errors. */
export function statusDetail(status: string, sip: number | string | undefined): string {
  return sip === undefined ? status : `${status} (SIP ${sip})`;
}
