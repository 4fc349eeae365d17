import type { App } from './site.js';

/** What Express 5's router (router v2) tells of itself: each route's path and methods, and each mounted router. */
interface ListedRoute {
  path: string | RegExp;
  methods?: string[];
  router?: RouteListing;
}
interface RouteListing {
  listRoutes(): ListedRoute[];
}

/** Every route of `router` and of the routers mounted in it, with its whole path (`/admin/users/:id/lock`). */
function routesOf(router: RouteListing, mountPath = ''): { method: string; path: string }[] {
  return router.listRoutes().flatMap(({ path, methods, router: mounted }) => {
    if (typeof path !== 'string') throw new Error(`a route whose path is a RegExp (${String(path)}) cannot be walked`);
    const whole = mountPath + (mounted && path === '/' ? '' : path);
    return mounted ? routesOf(mounted, whole) : (methods ?? []).map((method) => ({ method, path: whole }));
  });
}

/** Every route of the app, with its method. */
export const appRoutes = (app: App) => routesOf(app.router as unknown as RouteListing);

/** The app's POST routes (and any `all()` route), as the router holds them. */
export const postRoutes = (app: App): string[] => [
  ...new Set(
    appRoutes(app)
      .filter(({ method }) => method === 'POST' || method === '*')
      .map(({ path }) => path),
  ),
];
