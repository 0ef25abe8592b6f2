/**
 * The configuration reference, made from the schema itself: every key, its type, its default and
 * what it means, as Markdown. The README's reference section is this text (a test compares them),
 * so the documentation cannot drift from the code that reads the file.
 */
import { z } from 'zod';
import { formatDurationMs } from '../core/duration.ts';
import { fileSchema } from './schema.ts';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
}

function typeOf(s: JsonSchema, output: unknown): string {
  if (s.enum !== undefined) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.anyOf !== undefined) return 'size: bytes, or "25MiB"';
  if (s.type === 'array') return s.items?.type === 'object' ? 'tables' : `list of ${typeOf(s.items ?? {}, undefined)}s`;
  if (s.type === 'string' && typeof output === 'number') return 'duration: "500ms", "5m", "4h", "5d"';
  if (s.type === 'integer' || s.type === 'number') return 'number';
  if (s.type === 'string') return 'string';
  return String(s.type ?? 'value');
}

function defaultOf(s: JsonSchema, output: unknown): string {
  if (output === undefined || output === null) return '(none)';
  if (s.type === 'string' && typeof output === 'number') return `"${formatDurationMs(output)}"`;
  if (s.anyOf !== undefined && typeof output === 'number') return output % 1048576 === 0 ? `"${output / 1048576}MiB"` : String(output);
  if (Array.isArray(output)) return output.length === 0 ? '[]' : `[${output.map((v) => JSON.stringify(v)).join(', ')}]`;
  return JSON.stringify(output);
}

export function configReference(): string {
  const schema = z.toJSONSchema(fileSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const defaults = fileSchema.parse({}) as unknown as Record<string, unknown>;
  const top: string[] = [];
  const sections: string[] = [];
  for (const [key, s] of Object.entries(schema.properties ?? {})) {
    if (s.type === 'object' && s.properties !== undefined) {
      const out = (defaults[key] ?? {}) as Record<string, unknown>;
      const rows = Object.entries(s.properties).map(([k, v]) => `| \`${k}\` | ${typeOf(v, out[k])} | ${defaultOf(v, out[k])} | ${v.description ?? ''} |`);
      sections.push(`### \`[${key}]\`: ${s.description ?? ''}\n\n| key | type | default | meaning |\n| --- | --- | --- | --- |\n${rows.join('\n')}\n`);
    } else if (s.type === 'array' && s.items?.type === 'object') {
      const rows = Object.entries(s.items.properties ?? {}).map(([k, v]) => `| \`${k}\` | ${typeOf(v, undefined)} | (required) | ${v.description ?? ''} |`);
      sections.push(`### \`[[${key}]]\`: ${s.description ?? ''}\n\n| key | type | default | meaning |\n| --- | --- | --- | --- |\n${rows.join('\n')}\n`);
    } else {
      top.push(`| \`${key}\` | ${typeOf(s, defaults[key])} | ${key === 'hostname' ? "the machine's name" : defaultOf(s, defaults[key])} | ${s.description ?? ''} |`);
    }
  }
  return `### Top level\n\n| key | type | default | meaning |\n| --- | --- | --- | --- |\n${top.join('\n')}\n\n${sections.join('\n')}`;
}
