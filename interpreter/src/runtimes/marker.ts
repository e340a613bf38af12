/**
 * Splits a stream of text at a marker line (`<marker><suffix>\n`) that a shell prints after a
 * cell: what comes before it is the cell's output; the suffix (an exit status) ends the cell.
 * Output is passed on as soon as it cannot be the start of the marker, so streaming is not
 * delayed by more than the marker's length.
 */
export class MarkerSplitter {
  private held = "";

  constructor(private readonly marker: string) {}

  /**
   * Adds text. Returns the output that is now certain (`out`) and, once the whole marker line
   * arrived, its suffix (`ended`). Text after the marker line is kept for the next cell.
   */
  push(text: string): { out: string; ended?: string } {
    const s = this.held + text;
    const at = s.indexOf(this.marker);
    if (at >= 0) {
      const nl = s.indexOf("\n", at);
      if (nl < 0) {
        this.held = s.slice(at);
        return { out: s.slice(0, at) };
      }
      this.held = s.slice(nl + 1);
      return { out: s.slice(0, at), ended: s.slice(at + this.marker.length, nl) };
    }
    // Hold back the longest tail that is a prefix of the marker.
    let keep = Math.min(this.marker.length - 1, s.length);
    while (keep > 0 && !this.marker.startsWith(s.slice(s.length - keep))) keep--;
    this.held = s.slice(s.length - keep);
    return { out: s.slice(0, s.length - keep) };
  }
}
