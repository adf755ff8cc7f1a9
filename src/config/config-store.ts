import { EventEmitter } from 'node:events';
import type { IncidentdConfig } from './config-schema';
import { loadConfigFile, type ConfigProblem } from './load-config';

export type ReloadResult = { ok: true } | { ok: false; problems: ConfigProblem[] };

/**
 * Holds the configuration in force. Features read `current` when they need it (never
 * copy it at start-up), so a reload takes effect everywhere at once. An invalid new file
 * is refused and the old configuration stays.
 */
export class ConfigStore extends EventEmitter<{ reloaded: [IncidentdConfig] }> {
  private config: IncidentdConfig;

  constructor(
    readonly file: string,
    initial: IncidentdConfig,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    super();
    this.config = initial;
  }

  get current(): IncidentdConfig {
    return this.config;
  }

  reload(): ReloadResult {
    const result = loadConfigFile(this.file, this.env);
    if (!result.ok) return { ok: false, problems: result.problems };
    this.config = result.config;
    this.emit('reloaded', this.config);
    return { ok: true };
  }
}
