/**
 * Command line: `balaitous predict`, `balaitous gc` (the container entrypoint) and `balaitous models`.
 */
import { installFaultHandlers, reportError } from './faults.js';
import { GC_HELP, gcCommand } from './gc.js';
import { MODELS_HELP, modelsCommand } from './models.js';
import { UsageError, VERSION } from './options.js';
import { PREDICT_HELP, predictCommand } from './predict.js';

const MAIN_HELP = `balaitous ${VERSION}: P(COVID-19) and P(severe outcome) from a chest CT, with the Balaitous model.

Usage:
  balaitous predict SCAN... [options]  score scans: image files (.mha, .mhd, .nii, .nii.gz, .nrrd),
                                       folders of DICOM slices, folders of image files
  balaitous gc [options]               container entrypoint: /input/images/ct/ to /output/*.json
  balaitous models verify [DIR]        check a models directory against its manifest
  balaitous models info                show where models are looked up and what is installed

Options for every command: --help, --version, --quiet, --verbose.
Run 'balaitous COMMAND --help' or 'balaitous help COMMAND' for the options of a command.

Examples:
  balaitous predict scan.mha
  balaitous predict dicom/patient-001/ --json
  balaitous predict scans/ --out results.csv
  balaitous models info`;

const COMMAND_HELP: Record<string, string> = { predict: PREDICT_HELP, gc: GC_HELP, models: MODELS_HELP };

export async function main(argv: string[]): Promise<number> {
  installFaultHandlers();
  const [command, ...rest] = argv;
  // --version anywhere before a '--' prints the version, whatever the command and other arguments.
  const optionArguments = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (optionArguments.includes('--version')) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  try {
    switch (command) {
      case 'predict':
        return await predictCommand(rest);
      case 'gc':
        return await gcCommand(rest);
      case 'models':
        return await modelsCommand(rest);
      case 'help':
        if (rest[0] !== undefined && !(rest[0] in COMMAND_HELP)) {
          throw new UsageError(`unknown command ${JSON.stringify(rest[0])}: expected predict, gc or models (see 'balaitous --help')`);
        }
        process.stdout.write(`${rest[0] === undefined ? MAIN_HELP : COMMAND_HELP[rest[0]]}\n`);
        return 0;
      case undefined:
      case '--help':
      case '-h':
        process.stdout.write(`${MAIN_HELP}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}: expected predict, gc or models (see 'balaitous --help')`);
    }
  } catch (error) {
    reportError(error);
    return error instanceof UsageError ? 2 : 1;
  }
}
