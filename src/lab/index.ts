/**
 * The lab runs the tutorial's scenarios as they would run on the Internet, on one machine: the
 * authoritative DNS server and every mail host of a scenario as separate Postern processes, each on
 * its own 127.x address (all of 127.0.0.0/8 answers on Linux's loopback) and one shared port, so
 * that the MX records of scenarios/ lead real SMTP conversations to real hosts. A script per
 * scenario acts the way an operator would (send mail, stop a data centre, bring it back), looks
 * only through the CLI every operator has (`queue list`, `mailbox list`, `route`), and says what
 * happened against what the tutorial says must happen.
 */
export { runLab, availableScenarios, listText, keepText, LabExit, type LabOptions } from './runner.ts';
export { labScenarios, priority, datacenters, hosted, subdomains, vps, edge, LAB_USER, type DatacenterCounts, type ScenarioOptions } from './scenarios.ts';
export type { LabContext, ScenarioScript, Step, StepResult } from './script.ts';
export { Topology, hostConfig, servicePort, type HostSpec, type LabService, type TopologyOptions } from './topology.ts';
export { pickPort, LAB_PORTS } from './ports.ts';
export { Progress, renderBar, quarter } from './progress.ts';
export { tally, tallyText, tallyOk, shareText, sharesWithin, summaryTable, wrap, type Tally, type SummaryRow } from './report.ts';
export { submitMessages, labMessageText, readGreeting, rcptProbe, type LabMessage, type RcptProbeOptions } from './submit.ts';
