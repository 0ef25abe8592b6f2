/**
 * Delivery decides, recipient by recipient, what happens to a committed message: filed into local
 * mailboxes for a primary domain, held for a backup domain until a more preferred MX host answers,
 * or handed to the MX walk for anyone else's domain. For now it holds the routing decision that
 * `postern route` prints; the queue and the SMTP walk build on it.
 */
export { planRoute, recipientDomain, type Route } from './route.ts';
