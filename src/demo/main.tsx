import { createRoot } from 'react-dom/client';
import { VideoGatewayProvider } from '../../packages/client/src/react/index.tsx';
import { App } from './App.tsx';

const root = document.getElementById('root')!;
createRoot(root).render(
  <VideoGatewayProvider
    url={new URL('/graphql', window.location.href).toString()}
    persisted={root.dataset.persisted === 'true'}
  >
    <App />
  </VideoGatewayProvider>,
);
