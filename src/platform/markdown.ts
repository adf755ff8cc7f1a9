/**
 * One line of user text for a Markdown document (minutes, reviews): whitespace folded and
 * Markdown and HTML characters escaped, so it reads as evidence, never as markup or links.
 */
export function markdownLine(value: string | null | undefined): string {
  return (value ?? '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\\`*_[\]<>#|~]/g, '\\$&');
}
