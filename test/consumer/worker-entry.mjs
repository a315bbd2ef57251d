// The pool's worker script, bundled by the consumer test as its own entry point next to app.js (worker.js).
import 'gfloss/worker';
