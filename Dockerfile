FROM node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# All dependencies: the gateway's own are devDependencies, as the published package is only the client.
RUN npm ci --no-audit --no-fund
COPY . .
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000
EXPOSE 4000
USER node
CMD ["npm", "start"]
