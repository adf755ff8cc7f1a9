import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { DateTime } from 'luxon';
import { NotFoundError } from '../../platform/errors';

export interface Branding {
  name: string;
  logoUrl?: string;
  signature?: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const PARTS = ['subject', 'text', 'html'] as const;
const NAME = /^[a-z0-9-]+$/;

/** "Mon 2 Mar 2026, 10:04 GMT" in the reader's time zone. */
export function formatTime(value: unknown, zone: unknown): string {
  if (value === undefined || value === null || value === '') return '';
  const instant = value instanceof Date ? DateTime.fromJSDate(value) : DateTime.fromISO(String(value));
  if (!instant.isValid) return String(value);
  return instant.setZone(typeof zone === 'string' && zone ? zone : 'UTC').toFormat('ccc d LLL yyyy, HH:mm ZZZZ');
}

/**
 * E-mail templates: `views/emails/<name>/{subject,text,html}.hbs`, wrapped in the shared
 * layout `views/emails/_layout/{text,html}.hbs` with the client's branding. The HTML part
 * escapes everything a person or an alert typed; subject and text parts are plain text
 * (no HTML escaping) and the subject is flattened to one line. Each template folder has a
 * `sample.json` for the admin preview and the tests.
 */
export function createEmailTemplates(emailsDir: string) {
  const html = Handlebars.create();
  const text = Handlebars.create();
  for (const instance of [html, text]) instance.registerHelper('time', (value: unknown, zone: unknown) => formatTime(value, zone));
  const compiled = new Map<string, Handlebars.TemplateDelegate>();
  const compile = (file: string) => {
    let template = compiled.get(file);
    if (!template) {
      const instance = file.endsWith('html.hbs') ? html : text;
      template = instance.compile(readFileSync(path.join(emailsDir, file), 'utf8'), { noEscape: instance === text });
      compiled.set(file, template);
    }
    return template;
  };

  function names(): string[] {
    return readdirSync(emailsDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('_') && existsSync(path.join(emailsDir, entry.name, 'subject.hbs')))
      .map((entry) => entry.name)
      .sort();
  }

  function check(name: string): void {
    if (!NAME.test(name) || !names().includes(name)) throw new NotFoundError(`no e-mail template "${name}"`);
  }

  return {
    names,

    render(name: string, context: Record<string, unknown>, brand: Branding): RenderedEmail {
      check(name);
      const data = { ...context, brand };
      const [subject, textBody, htmlBody] = PARTS.map((part) => compile(`${name}/${part}.hbs`)(data));
      const oneLine = subject!.replace(/\s+/g, ' ').trim().slice(0, 250);
      return {
        subject: oneLine,
        text: `${compile('_layout/text.hbs')({ ...data, body: textBody!.trim() }).trim()}\n`,
        html: compile('_layout/html.hbs')({ ...data, subject: oneLine, body: htmlBody }),
      };
    },

    /** The sample data of a template, for previews and tests. */
    sample(name: string): Record<string, unknown> {
      check(name);
      return JSON.parse(readFileSync(path.join(emailsDir, name, 'sample.json'), 'utf8')) as Record<string, unknown>;
    },
  };
}
export type EmailTemplates = ReturnType<typeof createEmailTemplates>;
