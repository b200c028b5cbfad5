#!/usr/bin/env node
'use strict';
// Thin launcher: the proxy always runs the compiled JavaScript in dist/.
require('../dist/src/cli/run.js');
