/**
 * `balaitous predict`: scores scans and prints both probabilities.
 */
import { writeDebugDir } from '../debug-dir.js';
import { Balaitous } from '../index.js';
import { log } from '../log.js';
import { checkAgeYears, checkSex } from '../steps/age-sex.js';
import { SESSION_OPTIONS_HELP, UsageError, applyVerbosity, parse, parseNumber, sessionOptions } from './options.js';

export const PREDICT_HELP = `Usage: balaitous predict SCAN [options]

Scores one chest CT and prints both probabilities.

Options:
  --age YEARS          patient age in years (default: PatientAge of the header, else 65)
  --sex 0|0.5|1        patient sex: 0 female, 1 male, 0.5 unknown (default: PatientSex of the header, else 0.5)
  --models DIR         models directory (default: $BALAITOUS_MODELS, then models/ in the package, then ~/.cache/balaitous/models)
${SESSION_OPTIONS_HELP}
  --json               print one JSON object on stdout (covid, severe, age, sex, heads, explanation,
                       lungMeasures, providers, timings)
  --debug-dir DIR      write every intermediate result, named as the reference implementation's dumps
  --quiet, --verbose   fewer or more log lines on stderr

Examples:
  balaitous predict scan.mha
  balaitous predict scan.mha --age 72 --sex 1 --json
  balaitous predict scan.mha --models test/fixtures/models --debug-dir debug/`;

export async function predictCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    age: { type: 'string' },
    sex: { type: 'string' },
    models: { type: 'string' },
    device: { type: 'string' },
    precision: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
    'debug-dir': { type: 'string' },
  }, 'predict');
  if (values.help) {
    process.stdout.write(`${PREDICT_HELP}\n`);
    return 0;
  }
  applyVerbosity(values);
  if (positionals.length !== 1) {
    throw new UsageError(`predict takes one scan, got ${positionals.length} (see 'balaitous predict --help')`);
  }
  const age = parseNumber(values.age, '--age');
  const sex = parseNumber(values.sex, '--sex');
  try {
    if (age !== undefined) checkAgeYears(age, '--age');
    if (sex !== undefined) checkSex(sex, '--sex');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const options = sessionOptions(values);

  const [scan] = positionals;
  const debugDir = values['debug-dir'];
  const model = await Balaitous.load(options);
  try {
    const start = performance.now();
    const result = await model.predict(scan, { age, sex, intermediates: debugDir !== undefined });
    const seconds = (performance.now() - start) / 1000;
    log.info(`${scan}: scored in ${seconds.toFixed(2)} s`);
    if (debugDir !== undefined) {
      await writeDebugDir(debugDir, result);
      log.info(`intermediates written to ${debugDir}`);
    }

    if (values.json) {
      const output = {
        scan,
        covid: result.covid,
        severe: result.severe,
        age: result.age,
        sex: result.sex,
        heads: result.heads,
        explanation: result.explanation,
        lungMeasures: result.lungMeasures,
        providers: result.providers,
        models: model.modelsName,
        timings: result.timings,
      };
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    } else {
      process.stdout.write(`${scan}\n  P(COVID-19)       ${(100 * result.covid).toFixed(1)} %\n  P(severe outcome) ${(100 * result.severe).toFixed(1)} %\n`);
    }
  } finally {
    await model.dispose();
  }
  return 0;
}
