/** Process entry point: `bin/legate.js` loads this (compiled); tests run it from their own build. */
import { main } from './main';

main(process.argv.slice(2));
