import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * Values generated once per installation and shared by every replica (e.g. the key that
 * signs CSRF tokens and links). Kept in the database so they survive restarts without
 * any setup.
 */
export const InstanceSettingSchema = defineEntity({
  name: 'InstanceSetting',
  properties: {
    key: p.text().primary(),
    value: p.text().hidden(),
    createdAt: p.datetime(),
  },
});
export type InstanceSetting = InferEntity<typeof InstanceSettingSchema>;
