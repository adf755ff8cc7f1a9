import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';

/**
 * Server-rendered pages. Templates live in views/*.hbs and are wrapped in
 * views/layouts/main.hbs. Handlebars escapes `{{ }}`, which is the only form used for
 * anything a person or an alert can type.
 */
export function createViewRenderer(viewsDir: string) {
  const handlebars = Handlebars.create();
  const partialsDir = path.join(viewsDir, 'partials');
  for (const file of safeList(partialsDir)) {
    if (file.endsWith('.hbs')) handlebars.registerPartial(path.basename(file, '.hbs'), readFileSync(path.join(partialsDir, file), 'utf8'));
  }
  const cache = new Map<string, Handlebars.TemplateDelegate>();
  const compile = (name: string) => {
    let template = cache.get(name);
    if (!template) {
      template = handlebars.compile(readFileSync(path.join(viewsDir, `${name}.hbs`), 'utf8'), { strict: false });
      cache.set(name, template);
    }
    return template;
  };
  return {
    render(name: string, data: Record<string, unknown>, layout = 'layouts/main'): string {
      const body = compile(name)(data);
      return compile(layout)({ ...data, body });
    },
    /** A template on its own, without the layout (e.g. a live-updated part of a page). */
    fragment(name: string, data: Record<string, unknown>): string {
      return compile(name)(data);
    },
  };
}
export type ViewRenderer = ReturnType<typeof createViewRenderer>;

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
