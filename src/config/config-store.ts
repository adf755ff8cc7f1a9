import type { IncidentdConfig } from './config-schema';
import { loadConfigFile, type ConfigProblem } from './load-config';

/**
 * Holds the configuration in force. Features read `current` when they need it (never
 * copy it at start-up), so a reload takes effect everywhere at once.
 */
export class ConfigStore {
  private config: IncidentdConfig;

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
  }
}
