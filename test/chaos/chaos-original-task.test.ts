import { chaosCase } from './chaos-case.js';

chaosCase('original-task');
