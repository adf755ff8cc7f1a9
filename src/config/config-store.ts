import type { IncidentdConfig } from './config-schema';
import { loadConfigFile, type ConfigProblem } from './load-config';

/**
 * Holds the configuration in force. Features read `current` when they need it (never
 * copy it at start-up), so a reload takes effect everywhere at once.
 */
export class ConfigStore {
  private config: IncidentdConfig;
  private readonly listeners: ((config: IncidentdConfig) => void)[] = [];

  constructor(
    readonly file: string,
    initial: IncidentdConfig,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.config = initial;
  }

  get current(): IncidentdConfig {
    return this.config;
  }

  /** Reads and validates the file again without applying it. */
  readFile(): { ok: true; config: IncidentdConfig } | { ok: false; problems: ConfigProblem[] } {
    return loadConfigFile(this.file, this.env);
  }

  replace(config: IncidentdConfig): void {
    this.config = config;
    for (const listener of this.listeners) listener(config);
  }

  /** For the few features that must act on a reload at once rather than on their next read. */
  onReplace(listener: (config: IncidentdConfig) => void): void {
    this.listeners.push(listener);
  }
}
