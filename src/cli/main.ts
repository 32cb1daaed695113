/**
 * Command line: `balaitous predict`, `balaitous gc` (the container entrypoint) and `balaitous models`.
 */
import { gcCommand } from './gc.js';
import { modelsCommand } from './models.js';
import { UsageError, VERSION } from './options.js';
import { predictCommand } from './predict.js';

const MAIN_HELP = `balaitous ${VERSION}: P(COVID-19) and P(severe outcome) from a chest CT, with the Balaitous model.

Usage:
  balaitous predict SCAN [options]     score one scan (.mha, .mhd, .nii, .nii.gz, .nrrd)
  balaitous gc [options]               container entrypoint: /input/images/ct/ to /output/*.json
  balaitous models verify [DIR]        check a models directory against its manifest
  balaitous models info                show where models are looked up and what is installed

Options for every command: --help, --version, --quiet, --verbose.
Run 'balaitous COMMAND --help' for the options of a command.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'predict':
        return await predictCommand(rest);
      case 'gc':
        return await gcCommand(rest);
      case 'models':
        return await modelsCommand(rest);
      case '--version':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${MAIN_HELP}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}: expected predict, gc or models (see 'balaitous --help')`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`balaitous error: ${message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
