// esbuild bundles the imported stylesheet next to main.js.
declare module '*.css';
