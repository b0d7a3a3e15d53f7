import { chaosCase } from './chaos-case.js';

chaosCase('new-task');
