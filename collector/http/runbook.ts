/**
 * The runbook as a page: docs/runbook.md rendered with marked, every heading given the anchor GitHub
 * gives it, so that one link works on both: an alert's `runbook_url` (`<publicUrl>/runbook#drift`),
 * the Prometheus rules' (`#driftlineagentdown`, `#the-collector-itself`) and the docs'.
 */
import { Marked } from 'marked';

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/**
 * GitHub's heading anchor: the text lower-cased, every character that is not a letter, a mark, a
 * digit, a connector (`_`), a hyphen or a space dropped, and spaces turned into hyphens.
 */
export function githubSlug(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

export interface RenderedRunbook {
  readonly html: string;
  /** Every heading's anchor, in order. */
  readonly anchors: readonly string[];
}

/** Markdown to HTML, with GitHub's anchors on headings (a repeated one gets -1, -2, … as there). */
export function renderMarkdown(markdown: string): RenderedRunbook {
  const seen = new Map<string, number>();
  const anchors: string[] = [];
  const marked = new Marked({
    gfm: true,
    renderer: {
      heading({ tokens, depth }) {
        const inner = this.parser.parseInline(tokens);
        // The heading's text as a reader sees it: inline HTML tags dropped, entities read back.
        const plain = this.parser
          .parseInline(tokens, this.parser.textRenderer)
          .replace(/<[^>]*>/g, '')
          .replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e] ?? e);
        const base = githubSlug(plain);
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        const slug = n ? `${base}-${n}` : base;
        anchors.push(slug);
        return `<h${depth} id="${slug}"><a class="anchor" href="#${slug}" aria-label="Link to this section">#</a> ${inner}</h${depth}>\n`;
      },
    },
  });
  return { html: marked.parse(markdown, { async: false }), anchors };
}
