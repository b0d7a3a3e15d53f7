/** aws-lite's DynamoDB plugin ships no types; the bench only hands it to the client (bench/dynamo-clients.ts). */
declare module '@aws-lite/dynamodb';
