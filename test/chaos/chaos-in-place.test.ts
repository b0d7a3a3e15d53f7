import { chaosCase } from './chaos-case.js';

chaosCase('in-place');
