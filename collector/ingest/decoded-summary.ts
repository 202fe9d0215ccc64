/**
 * A summary the decode worker has already parsed and validated, as the receiving thread sees it:
 * the fields that every summary's path reads (identity, seq, window times, frames, verdict) are
 * plain properties, from the worker's reply; the rest of the body is parsed from the raw text on
 * first use, once. Sending the whole parsed body back across threads would cost about what parsing
 * it costs, and most summaries never need it: it is read when a drift alert is raised or updated
 * (its evidence), and rarely otherwise.
 *
 * The body's fields are getters on the prototype, and the text and the parsed body are private: a
 * spread (`{ ...s }`), `Object.keys` or structuredClone sees only the plain fields, never the body.
 * JSON.stringify sees the whole message (toJSON); code that needs a plain copy takes `body()`, or
 * parses the raw text it was given beside the message (handlers.ts shifted() does).
 */
import type { FeatureStats, SummaryDriver, SummaryMessage, Verdict } from '../../protocol/messages.js';
import { SCHEMAS } from '../../protocol/messages.js';

type Body = SummaryMessage;

export class DecodedSummary implements SummaryMessage {
  readonly schema = SCHEMAS.summary;
  #parsed: Body | undefined;
  readonly #text: string;

  constructor(
    readonly site: string,
    readonly device: string,
    readonly camera: string,
    readonly seq: number,
    readonly start: number,
    readonly end: number,
    readonly frames: number,
    readonly status: Verdict,
    /** The payload as received: exactly this text was validated. */
    text: string,
  ) {
    this.#text = text;
  }

  /** The whole message, parsed from the text (once). */
  body(): Body {
    return (this.#parsed ??= JSON.parse(this.#text) as Body);
  }

  toJSON(): Body {
    return this.body();
  }

  get dropped(): number {
    return this.body().dropped;
  }
  get errors(): number {
    return this.body().errors;
  }
  get model(): { name: string; sha256: string } {
    return this.body().model;
  }
  get provider(): string {
    return this.body().provider;
  }
  get insufficient(): Body['insufficient'] {
    return this.body().insufficient;
  }
  get thresholds(): Body['thresholds'] {
    return this.body().thresholds;
  }
  get features(): Record<string, FeatureStats> {
    return this.body().features;
  }
  get drivers(): SummaryDriver[] | undefined {
    return this.body().drivers;
  }
  get scores(): Body['scores'] {
    return this.body().scores;
  }
  get familyScores(): Body['familyScores'] {
    return this.body().familyScores;
  }
  get rates(): Body['rates'] {
    return this.body().rates;
  }
  get oodFeatures(): Body['oodFeatures'] {
    return this.body().oodFeatures;
  }
  get sequential(): Body['sequential'] {
    return this.body().sequential;
  }
  get classCounts(): Record<string, number> {
    return this.body().classCounts;
  }
  get confHist(): Record<string, number[]> {
    return this.body().confHist;
  }
  get latencyMs(): Body['latencyMs'] {
    return this.body().latencyMs;
  }
  get review(): Body['review'] {
    return this.body().review;
  }
}
