# syntax=docker/dockerfile:1.7
#
# One image for both services; the command picks which one runs (the same root package.json scripts that tests,
# docker-compose.yml and fly.toml use, so there is one source of truth for start commands):
#
#   docker build -t voice-app .
#   docker run --init --env-file .env voice-app                      # token service (default)
#   docker run --init --env-file .env voice-app start:agent          # agent worker
#
# The web client is a separate target (static files, no Node at run time):
#
#   docker build --target web-client -t voice-web .
#
# TypeScript runs with tsx (a production dependency of token-service and agent): there is no build step to get
# out of sync with the sources, and the agent forks its job file (agent/src/job.ts) by path, which a bundle
# would break. tsx compiles each file once per process start (~1 s), then runs at plain Node speed.

ARG NODE_IMAGE=node:24-slim

# ---- dependencies: production only, and only the workspaces the services need ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# onnxruntime-node (Silero VAD) would fetch a CUDA add-on from the internet; its CPU library ships in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
# Every workspace's package.json, so npm ci can check the lockfile against the whole workspace tree.
COPY package.json package-lock.json .npmrc ./
COPY core/package.json core/
COPY token-service/package.json token-service/
COPY agent/package.json agent/
COPY devstack/package.json devstack/
COPY web-client/package.json web-client/
COPY e2e/package.json e2e/
COPY bench/package.json bench/
# Library fixes we carry until upstream has them (patches/README.md), applied after install.
COPY patches/ patches/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --workspace core --workspace token-service --workspace agent && \
    npx --no-install patch-package --error-on-fail

# ---- web client: Vite build (needs its dev dependencies), served by nginx below ----
FROM ${NODE_IMAGE} AS web-build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY core/package.json core/
COPY token-service/package.json token-service/
COPY agent/package.json agent/
COPY devstack/package.json devstack/
COPY web-client/package.json web-client/
COPY e2e/package.json e2e/
COPY bench/package.json bench/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --workspace web-client
COPY web-client/ web-client/
RUN npm run build --workspace web-client

FROM nginxinc/nginx-unprivileged:1.29-alpine AS web-client
# The bundle holds no URLs or keys: /config.json is written from the environment when the container starts
# (WEB_SUPABASE_URL, WEB_SUPABASE_ANON_KEY, WEB_TOKEN_SERVICE_URL, WEB_SIMULATED_PROVIDERS), so one image serves
# every deployment. Never put a service role key there: the browser can read it. WEB_LIVEKIT_URL (the token
# service's LIVEKIT_URL) goes into the Content-Security-Policy. The build ships no source maps (vite.config.ts).
COPY --from=web-build /app/web-client/dist/ /usr/share/nginx/html/
# WEB_CSP: the page's Content-Security-Policy, computed at start from the WEB_* URLs (web-client/nginx/csp.envsh).
# (.envsh files are sourced only when executable.)
COPY --chmod=0755 web-client/nginx/csp.envsh /docker-entrypoint.d/15-web-csp.envsh
COPY <<'NGINX' /etc/nginx/templates/default.conf.template
server {
    listen 8080;
    root /usr/share/nginx/html;
    server_tokens off;
    add_header X-Content-Type-Options nosniff always;
    add_header Referrer-Policy no-referrer always;
    add_header X-Frame-Options DENY always;
    add_header Permissions-Policy "microphone=(self), camera=(), geolocation=()" always;
    add_header Content-Security-Policy "${WEB_CSP}" always;

    location = /healthz { default_type text/plain; return 200 "ok"; }
    location = /config.json {
        default_type application/json;
        expires -1;
        return 200 '{"supabaseUrl":"${WEB_SUPABASE_URL}","supabaseAnonKey":"${WEB_SUPABASE_ANON_KEY}","tokenServiceUrl":"${WEB_TOKEN_SERVICE_URL}","simulatedProviders":${WEB_SIMULATED_PROVIDERS}}';
    }
    # Cache headers via `expires` (an add_header here would drop the security headers above for that location).
    # Hashed assets never change; index.html must always be fresh to pick up a new build.
    location ^~ /assets/ { expires max; try_files $uri =404; }
    # A missing file with an extension is a 404; app routes (no extension) get the app.
    location ~ \.[a-zA-Z0-9]+$ { expires -1; try_files $uri =404; }
    location / { expires -1; try_files $uri $uri/ /index.html; }
}
NGINX
ENV WEB_SIMULATED_PROVIDERS=false
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1

# ---- services: token service (default) or agent worker ----
FROM ${NODE_IMAGE} AS app
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    # Inside a container the token service must listen beyond loopback (the .env default is 127.0.0.1).
    HOST=0.0.0.0 \
    PORT=8787 \
    TOKEN_METRICS_PORT=9091 \
    AGENT_HTTP_HOST=0.0.0.0 \
    AGENT_HEALTH_PORT=8081 \
    AGENT_METRICS_PORT=9464
WORKDIR /app
COPY --from=deps /app/ ./
COPY core/src/ core/src/
COPY token-service/src/ token-service/src/
COPY agent/src/ agent/src/
COPY tsconfig.base.json tsconfig.json ./
# Runs as the image's unprivileged `node` user; the code and dependencies stay owned by root (read-only to it).
USER node
# 8787 token service (HTTP API, /healthz, /readyz); 9091 token service /metrics; 8081 agent health (agents-js);
# 9464 agent /metrics.
EXPOSE 8787 9091 8081 9464
# Healthy when the service this container runs answers its health endpoint: the token service's /healthz or the
# agent worker's health server (the other port is simply closed in that container).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD node -e "const p=process.env;const u=['http://127.0.0.1:'+p.PORT+'/healthz','http://127.0.0.1:'+p.AGENT_HEALTH_PORT+'/'];Promise.any(u.map(x=>fetch(x,{signal:AbortSignal.timeout(4000)}).then(r=>{if(!r.ok)throw r.status}))).then(()=>process.exit(0),()=>process.exit(1))"
# `npm run` keeps the command identical to the package.json script; run the container with --init (compose sets
# init: true, Fly's init does it) so SIGTERM reaches the service and it drains before exit.
ENTRYPOINT ["npm", "run", "--silent"]
CMD ["start:token-service"]
