import { Pacer, samplesPerFrame, sentAt, sharedPacerGroup } from 'voicebot/media';

/** The part of the media plane's Pacer the leg uses: whole frames out on an absolute 20 ms clock. */
export interface FramePacer {
  start(): void;
  enqueue(pcm: Int16Array): void;
  /** drop queued audio; returns the samples dropped */
  flush(): number;
  stop(): void;
}

export interface PacerFactory {
  /** `onFrame`'s `at`: when the frame goes out (its slot, or later: `sentAt`; ms on performance.now()'s clock) */
  create(sampleRate: number, onFrame: (frame: Int16Array, at?: number) => void): FramePacer;
}

/** jambonz buffers on its side, so no comfort silence: only real audio (and the marks behind it) goes out. */
export const mediaPacers: PacerFactory = {
  create(sampleRate, onFrame) {
    return new Pacer({
      frameMs: 20,
      frameSamples: samplesPerFrame(sampleRate),
      silenceFill: false,
      group: sharedPacerGroup(),
      onFrame: (frame, info) => onFrame(frame, sentAt(info)),
    });
  },
};
