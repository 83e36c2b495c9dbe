// Errors cross the worker boundary as themselves: a HomecoderError thrown in a worker is
// rebuilt on the page as the same class with the same code, data, hint and message
// (comlink's default handler would leave a plain Error). Imported for its effect by every
// worker entry point and every worker client; the imports below register the classes that
// can cross.
import * as Comlink from 'comlink';
import { HomecoderError, type SerializedError } from '../errors.ts';
import '../data/errors.ts';
import '../gpu/errors.ts';
import '../model/errors.ts';
import '../model/export/errors.ts';
import '../model/adapter-mix.ts';
import '../model/hub/client.ts';
import '../serve/errors.ts';
import '../train/errors.ts';
import '../train/settings.ts';

type Wire = { typed: SerializedError } | { plain: { name: string; message: string; stack?: string } } | { other: unknown };

const fallback = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<{ value: unknown }, unknown>;

const throwHandler: Comlink.TransferHandler<{ value: unknown }, Wire> = {
  canHandle: (v): v is { value: unknown } => fallback.canHandle(v),
  serialize({ value }) {
    if (value instanceof HomecoderError) return [{ typed: value.toJSON() }, []];
    // A plain Error is a bug (or an AbortError, which must stay one): name, message, stack.
    if (value instanceof Error) return [{ plain: { name: value.name, message: value.message, stack: value.stack } }, []];
    return [{ other: value }, []];
  },
  deserialize(wire) {
    if ('typed' in wire) throw HomecoderError.fromJSON(wire.typed);
    if ('plain' in wire) throw Object.assign(new Error(wire.plain.message), wire.plain);
    throw wire.other;
  },
};

Comlink.transferHandlers.set('throw', throwHandler as Comlink.TransferHandler<unknown, unknown>);
