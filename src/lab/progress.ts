/**
 * The lab's progress bar on stderr: a plain text bar redrawn in place on a terminal, and a few
 * plain lines (at each quarter) when stderr is a file or a pipe, so a log holds no control codes.
 */

/** `[##########..........]  120/200  label`, the bar `width` characters wide. */
export function renderBar(done: number, total: number, label: string, width = 30): string {
  const t = Math.max(0, total);
  const d = Math.min(Math.max(0, done), t);
  const filled = t === 0 ? width : Math.round((d / t) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(d).padStart(String(t).length)}/${t}  ${label}`;
}

/** The quarter (0-4) that `done` of `total` has reached: the non-terminal bar prints once per quarter. */
export function quarter(done: number, total: number): number {
  if (total <= 0) return 4;
  return Math.min(4, Math.floor((Math.min(done, total) / total) * 4));
}

export interface ProgressOptions {
  write: (text: string) => unknown;
  /** A terminal: redraw in place with a carriage return. */
  tty: boolean;
}

export class Progress {
  readonly #o: ProgressOptions;
  #active = false;
  #lastQuarter = -1;
  #lastLabel = '';

  constructor(options: ProgressOptions) {
    this.#o = options;
  }

  update(done: number, total: number, label: string): void {
    const line = renderBar(done, total, label);
    if (this.#o.tty) {
      // Carriage return and spaces to wipe a longer previous line: no escape sequences needed.
      this.#o.write(`\r${line.padEnd(100)}`);
      this.#active = true;
      return;
    }
    const q = quarter(done, total);
    if (q === this.#lastQuarter && label === this.#lastLabel) return;
    this.#lastQuarter = q;
    this.#lastLabel = label;
    this.#o.write(`${line}\n`);
  }

  /** Ends the bar's line, so that what is printed next starts on a fresh one. */
  done(): void {
    if (this.#o.tty && this.#active) this.#o.write('\n');
    this.#active = false;
    this.#lastQuarter = -1;
    this.#lastLabel = '';
  }
}
