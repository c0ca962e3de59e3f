# The portal as a container: Node 20 on Debian bookworm, with GnuPG for the module tools and
# interoperability checks. Data (database, agreements, mail, secrets, queue key) lives in /data.
FROM node:20-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends gnupg ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
# Production dependencies only; the install generates the Prisma client from prisma/.
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY views ./views
COPY public ./public
COPY tsconfig.json ./

RUN mkdir -p /data && chown node:node /data
USER node
ENV NODE_ENV=production DATA_DIR=/data HOST=0.0.0.0 PORT=3000
VOLUME ["/data"]
EXPOSE 3000
CMD ["npm", "start"]
