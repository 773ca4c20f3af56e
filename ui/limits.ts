/** Rows of the routes table at a time: the page stays as quick with 10,000 routes as with 100. */
export const ROUTES_PER_PAGE = 100;
