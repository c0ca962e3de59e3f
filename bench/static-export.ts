export async function runStaticExport(_args: string[]): Promise<void> {}
