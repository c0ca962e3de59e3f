import { settingsFromRows, type Settings } from "../core/settings.ts";
import type { Db, Tx } from "../db/client.ts";

export async function readSettings(db: Db | Tx): Promise<Settings> {
  return settingsFromRows(await db.setting.findMany());
}

export async function writeSettings(tx: Tx, values: Partial<Record<keyof Settings, string | number>>, staffId: string, now: Date): Promise<void> {
  for (const [key, raw] of Object.entries(values)) {
    const value = String(raw);
    await tx.setting.upsert({ where: { key }, create: { key, value, updatedAt: now, updatedBy: staffId }, update: { value, updatedAt: now, updatedBy: staffId } });
  }
}
