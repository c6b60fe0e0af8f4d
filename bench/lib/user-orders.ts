/** How many orders every user of the bench's orders subgraph has: a list, but a short answer. */
export const ORDERS_PER_USER = 2;

/** A user's orders, computed from the id: what the subgraph answers and what the case expects. */
export function ordersOf(userId: string): { id: string }[] {
  return Array.from({ length: ORDERS_PER_USER }, (_, index) => ({ id: `${userId}-order-${index + 1}` }));
}
