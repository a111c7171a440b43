import { builder } from './builder.ts';
import './scalars.ts';
import './prediction.ts';

export const schema = builder.toSchema({ sortSchema: false });
