/**
 * Values every part of Postern shares and that touch nothing outside the process: errors with stable
 * codes, the logger interface, endpoints and domain names as admins write them, and the loopback
 * guard that keeps tests and development setups from ever sending a packet off the machine.
 */
export { ErrorCode, PosternError, errorText, isPosternError } from './errors.ts';
export { createLogger, memoryLogger, silentLogger, type Logger, type LogLevel, type MemoryLogger } from './logger.ts';
export { formatHostPort, parseHostPort, type HostPort } from './host-port.ts';
export { domainNameProblem, isAtOrBelow, normalizeDomain } from './domain-name.ts';
export { assertDestinationAllowed, isLoopbackAddress, loopbackOnly } from './loopback.ts';
