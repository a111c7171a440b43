import { builder } from './builder.ts';
import './scalars.ts';
import './prediction.ts';
import './viewer.ts';
import './webhooks.ts';
import './upload.ts';

export const schema = builder.toSchema({ sortSchema: false });
